"""Data: the classified dataset inventory beside DVC's hashes, and the pipeline lineage.

What each dataset is, who owns it, and what was built from it."""
