"""The release dossier: one offline HTML or Markdown document per release.

Built from the same library functions as the CLI."""
