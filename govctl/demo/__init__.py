"""The quickstart demo: a small but real support-answer service governed end to end."""
