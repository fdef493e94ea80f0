"""The estate simulator: one trading day through the status quo and through Stockbridge."""
