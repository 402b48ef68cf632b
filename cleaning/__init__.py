"""cleaning package."""
