"""git, through gitpython (imported lazily); plus a dependency-free HEAD reader.

Reading the current commit happens on every ledger write, so :func:`head_commit` reads
``.git`` directly (loose ref, packed-refs, or detached HEAD) and only falls back to
gitpython for layouts it does not know (worktrees, alternate git dirs).
"""

from __future__ import annotations

from pathlib import Path

from govctl.errors import ExternalError


def _git_dir(root: Path) -> Path | None:
    for candidate in (root, *root.parents):
        dot = candidate / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # worktree or submodule: "gitdir: <path>"
            text = dot.read_text("utf-8").strip()
            if text.startswith("gitdir:"):
                path = Path(text[7:].strip())
                return path if path.is_absolute() else (candidate / path).resolve()
    return None


def head_commit(root: Path) -> str | None:
    """The commit HEAD points to, or None when there is no repo or no commit yet."""
    gdir = _git_dir(Path(root))
    if gdir is None:
        return None
    try:
        head = (gdir / "HEAD").read_text("utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    common = gdir
    if (gdir / "commondir").exists():
        common = (gdir / (gdir / "commondir").read_text("utf-8").strip()).resolve()
    for base in (gdir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text("utf-8").strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text("utf-8").splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    return None  # unborn branch


def is_repo(root: Path) -> bool:
    return _git_dir(Path(root)) is not None


def init_repo(root: Path, *, nested: bool = False) -> bool:
    """``git init`` at ``root`` unless it is already inside a git repo. True if created.

    ``nested``: a repository of its own at ``root`` even inside another repo's work tree
    (only a ``.git`` at ``root`` itself counts as already done)."""
    if (Path(root) / ".git").exists() if nested else is_repo(root):
        return False
    import git

    try:
        git.Repo.init(root, initial_branch="main")
    except git.GitCommandError as exc:  # pragma: no cover - git missing or broken
        raise ExternalError(f"git init failed in {root}: {exc.stderr.strip()}") from None
    return True


def set_merge_driver(root: Path, name: str, description: str, command: str) -> bool:
    """``git config merge.NAME.driver COMMAND`` in this clone (local config does not travel
    with git, so every clone runs ``govctl init``). True if it was not set yet."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        with repo.config_reader() as cr:
            current = cr.get_value(f'merge "{name}"', "driver", default="")
        if current == command:
            return False
        with repo.config_writer() as cw:
            cw.set_value(f'merge "{name}"', "name", description)
            cw.set_value(f'merge "{name}"', "driver", command)
    except (git.GitCommandError, git.InvalidGitRepositoryError, OSError) as exc:
        raise ExternalError(f"cannot configure git in {root}: {exc}") from None
    return True


def dataset_versions(root: Path, files: list[str]) -> list[dict[str, object]]:
    """Each commit that changed any of ``files``, newest first, with the DVC hash the
    ``.dvc`` or inventory file held at that commit."""
    import git
    import yaml

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ExternalError(f"{root} is not a git repository") from None
    if repo.working_tree_dir is None:
        raise ExternalError(f"{root} is in a bare git repository: it has no files to read")
    if not repo.head.is_valid():
        return []
    # a governed subdirectory of a monorepo: git paths are relative to the git top level
    prefix = Path(root).resolve().relative_to(Path(repo.working_tree_dir).resolve())
    if str(prefix) != ".":
        files = [(prefix / f).as_posix() for f in files]
    out = []
    for commit in repo.iter_commits(paths=files):
        md5 = None
        for f in files:
            try:
                blob = commit.tree / f
            except KeyError:
                continue
            data = yaml.safe_load(blob.data_stream.read().decode("utf-8")) or {}
            if "outs" in data and data["outs"]:
                md5 = data["outs"][0].get("md5")
            elif isinstance(data.get("dvc"), dict):
                md5 = md5 or data["dvc"].get("md5")
        out.append({
            "commit": commit.hexsha,
            "date": commit.committed_datetime.isoformat(),
            "author": f"{commit.author.name} <{commit.author.email}>",
            "message": commit.summary,
            "md5": md5,
        })
    return out


def commit_all(root: Path, message: str, author: str = "govctl demo",
               email: str = "demo@example.invalid") -> str:
    """Stage everything (respecting .gitignore) and commit; returns the commit sha."""
    import git

    repo = git.Repo(root)
    repo.git.add(A=True)
    actor = git.Actor(author, email)
    return repo.index.commit(message, author=actor, committer=actor).hexsha


def files_at(root: Path, commit: str, folder: str) -> dict[str, str] | None:
    """The text of the files directly in ``folder`` (repo-relative) as committed in
    ``commit``: {path: text}; None when there is no such repo or commit (or no folder)."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        base = Path(root).resolve().relative_to(Path(str(repo.working_tree_dir)).resolve())
        rel = (base / folder.strip("/")).as_posix()
        tree = repo.commit(commit).tree
        sub = tree if rel in ("", ".") else tree / rel
        return {Path(b.path).relative_to(base).as_posix(): b.data_stream.read().decode("utf-8")
                for b in sub.blobs}
    except (git.GitError, ValueError, KeyError, UnicodeDecodeError):
        return None
