"""The only modules that import mlflow, dvc, git (gitpython) and sqlalchemy.

Each adapter imports its library inside the functions that need it, so that importing an
adapter module is free and commands that do not touch a system never pay for it.
"""
