"""Result records (one JSON per run) and the builder of the leaderboard pages."""
