"""Reading LogRocket export files and their URLs."""
