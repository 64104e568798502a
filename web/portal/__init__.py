"""The petitioners' portal: /portal (docs/portal.md)."""
