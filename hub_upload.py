"""Publish a plugin's trained model (and its Space) to the Hugging Face Hub.

    python hub_upload.py mnist-cnn --repo-id ORG/mnist-cnn --dry-run out/      # build, touch no network
    python hub_upload.py mnist-cnn --repo-id ORG/mnist-cnn                     # publish the model
    python hub_upload.py mnist-cnn --repo-id ORG/mnist-cnn --space             # ... and its Space
    python hub_upload.py all --owner ORG [--space]                             # every shipped model

The folder that goes to the Hub is built first, exactly: config.json,
model.safetensors, the model's code files (so `trust_remote_code` works: the
modules config.json's auto_map names and the files they import from their own
folder; any other .py file is refused), any vocabulary file, the sample media
and a model card regenerated from the run's saved `results.json` with the real
repo id in its usage snippet. It is then
pushed as ONE commit (`create_repo(exist_ok=True)` + `upload_folder`), so a
failure leaves no half-uploaded repo. The token comes from HF_TOKEN or the
user's `hf auth login`, and is never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from plugins.cards import DEFAULT_HUB_OWNER, render_model_card  # noqa: E402
from plugins.registry import UnknownPluginError, get_plugin, plugin_names  # noqa: E402
from plugins.serving import use_hub_timeouts  # noqa: E402

PRETRAINED = ROOT / "pretrained"
WEIGHT_SUFFIXES = {".safetensors"}
FORBIDDEN_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt", ".pickle"}  # pickles never leave this machine
# Per phase of every HTTP call (connect, read, write): huggingface_hub sets none, so a Hub that accepts the
# connection and never answers would hold a publication for ever.
UPLOAD_TIMEOUT_SECONDS = float(os.environ.get("DSL_HUB_UPLOAD_TIMEOUT", "15"))


class PublishError(Exception):
    """A problem the user can fix; the message says how. Never contains the token."""


@dataclass
class Commit:
    repo_id: str
    repo_type: str  # "model" or "space"
    folder: Path
    private: bool
    revision: str | None
    message: str
    files: list[dict] = field(default_factory=list)

    def plan(self) -> dict:
        record = asdict(self)
        record["folder"] = str(self.folder)
        return record


# ------------------------------------------------------------------ building
def check_weights_folder(folder: Path) -> dict:
    """The folder must be a `save_pretrained` folder from train.py; returns its config."""
    if not folder.is_dir():
        raise PublishError(f"weights folder {folder} does not exist (train it with train.py, or pass --weights)")
    missing = [name for name in ("config.json", "model.safetensors") if not (folder / name).is_file()]
    if missing:
        raise PublishError(f"{folder} is not a save_pretrained folder: {', '.join(missing)} missing")
    pickles = [path.name for path in folder.iterdir() if path.suffix in FORBIDDEN_SUFFIXES]
    if pickles:
        raise PublishError(f"{folder} holds pickled files ({', '.join(pickles)}); only safetensors are published")
    config = json.loads((folder / "config.json").read_text())
    code_files = {entry.split(".")[0] + ".py" for entry in config.get("auto_map", {}).values()}
    processor_file = folder / "preprocessor_config.json"  # a classifier's image processor (pipeline() loads it)
    if processor_file.is_file():
        code_files |= {entry.split(".")[0] + ".py"
                       for entry in json.loads(processor_file.read_text()).get("auto_map", {}).values()}
    if not code_files:
        raise PublishError(f"{folder}/config.json has no auto_map: the model's code would not travel with it")
    absent = [name for name in sorted(code_files) if not (folder / name).is_file()]
    if absent:
        raise PublishError(f"{folder} lacks the model code files {', '.join(absent)}")
    stray = sorted({path.name for path in folder.glob("*.py")} - model_code_files(folder, code_files))
    if stray:
        raise PublishError(f"{folder} holds Python files its model does not import ({', '.join(stray)}; an older "
                           "save_pretrained may have left them): remove them, since only code Hub users run is "
                           "published")
    if not (folder / "results.json").is_file():
        raise PublishError(f"{folder} has no results.json: the card is generated from the run's saved results")
    return config


def model_code_files(folder: Path, entry_files: set[str]) -> set[str]:
    """The code a Hub user's `trust_remote_code` runs: the entry modules and, recursively, the files of the
    folder they import (transformers' own rule when it saves and loads custom code)."""
    from transformers.dynamic_module_utils import get_relative_import_files

    files = set(entry_files)
    for name in entry_files:
        files.update(Path(path).name for path in get_relative_import_files(str(folder / name)))
    return files


def file_manifest(folder: Path) -> list[dict]:
    return [{"path": str(path.relative_to(folder)), "bytes": path.stat().st_size,
             "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            for path in sorted(folder.rglob("*")) if path.is_file()]


def build_model_folder(plugin, weights: Path, repo_id: str, destination: Path) -> Path:
    """Copy a weights folder into `destination` with a card regenerated for `repo_id`."""
    check_weights_folder(weights)
    results = json.loads((weights / "results.json").read_text())
    if results.get("plugin") != plugin.name:
        raise PublishError(f"{weights} was trained by plugin {results.get('plugin')!r}, not {plugin.name!r}")
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for path in sorted(weights.iterdir()):
        if path.is_file() and path.name != "README.md" and not path.name.startswith("."):
            shutil.copy2(path, destination / path.name)
    (destination / "README.md").write_text(render_model_card(plugin, results, repo_id))
    return destination


def read_requirement(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    raise PublishError(f"requirements.txt does not pin {name}")  # pragma: no cover - a broken checkout


def build_space_folder(names: list[str], model_repos: dict[str, str], destination: Path,
                       shipped_folders: list[str] | None = None) -> Path:
    """A self-contained Space: the app, the code it imports, the shipped weights as a fallback; no tests, no data.

    `model_repos` (folder -> repo id) are the repos published with it: the only ones its card links and its
    app loads from the Hub. `shipped_folders` (default: those) travel inside it as its own copies."""
    source = ROOT / "spaces" / (names[0] if len(names) == 1 else "hub")
    if not (source / "app.py").is_file():
        raise PublishError(f"{source}/app.py does not exist")
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    code_ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "test_*.py", "_template")  # a plugin's own tests
    for package in ("plugins", "models"):
        shutil.copytree(ROOT / package, destination / package, ignore=code_ignore)
    for folder_name in dict.fromkeys([*(shipped_folders or []), *model_repos]):
        shutil.copytree(PRETRAINED / folder_name, destination / "pretrained" / folder_name, ignore=ignore)
    # The app finds each model by Hub repo id first: bake the ids this publication used.
    defaults = "# Written by hub_upload.py: the Hub repos this Space's models come from.\n" + "".join(f'os.environ.setdefault("DSL_HUB_REPO_{name.upper().replace("-", "_")}", "{repo}")\n'
                       for name, repo in model_repos.items())
    (destination / "app.py").write_text("import os\n\n" + defaults + "\n" + (source / "app.py").read_text())
    card = (source / "README.md").read_text()
    front, body = card.split("---", 2)[1:]
    import yaml

    metadata = yaml.safe_load(front)
    metadata["sdk_version"] = read_requirement("gradio").split("==")[1]
    metadata["models"] = sorted(model_repos.values())
    (destination / "README.md").write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
                                           + "---" + body)
    for extra in ("requirements.txt", "packages.txt"):
        if (source / extra).is_file():
            shutil.copy2(source / extra, destination / extra)
    return destination


# ---------------------------------------------------------------- publishing
def find_token() -> str:
    from huggingface_hub import get_token

    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)")
    return token


def explain(error: Exception, token: str | None) -> PublishError:
    """Turn a huggingface_hub / HTTP failure into a short message, with the token scrubbed out."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    names = {cls.__name__ for cls in type(error).__mro__}
    if isinstance(error, OfflineModeIsEnabled):
        message = "offline mode is on (HF_HUB_OFFLINE=1): unset it to publish"
    elif isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        hub_error_code = error.response.headers.get("X-Error-Code")
        if status == 404 and not hub_error_code:
            # The Hub names what it did not find (RepoNotFound, RevisionNotFound...); a bare 404 comes from
            # something else answering at HF_ENDPOINT, and blaming the repo id would send the user astray.
            message = (f"{endpoint} answered 404 without the Hub's error code: HF_ENDPOINT does not point at "
                       "a Hugging Face Hub")
        else:
            message = {401: "the Hub rejected the token (expired or mistyped?): set a valid HF_TOKEN",
                       403: "permission denied: the token cannot write to this namespace (check the org and the "
                            "token's write scope)",
                       404: "not found on the Hub (check the repo id and revision)"}.get(
                           status, f"the Hub answered {status}")
    elif names & {"TimeoutException", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout"}:
        message = (f"the Hub at {endpoint} did not answer within {UPLOAD_TIMEOUT_SECONDS:g} s "
                   f"({type(error).__name__}); check the network or HF_ENDPOINT")
    elif names & {"TransportError", "ConnectionError", "NetworkError", "TimeoutException", "OSError"}:
        message = f"the Hub at {endpoint} cannot be reached ({type(error).__name__}); check the network or HF_ENDPOINT"
    else:
        message = f"{type(error).__name__}: {error}"
    if token:
        message = message.replace(token, "***")
    return PublishError(message)


def push(commits: list[Commit]) -> None:
    """Publish each planned repo as ONE commit: every local file added, every file the repo holds that the
    folder no longer has deleted (so a republish leaves nothing stale). A repo is created only just before
    its commit and deleted again if this run created it and the commit failed, so no empty repo is left;
    `upload_folder` is not used because it may split a folder into several commits. On failure the message
    names the repo that failed, those already published and those not touched."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    token = find_token()
    use_hub_timeouts(UPLOAD_TIMEOUT_SECONDS)
    api = HfApi(token=token)
    published: list[str] = []
    try:
        api.whoami()  # one quick request: fails fast on no network or a bad token, before any repo is touched
    except Exception as error:  # noqa: BLE001 - every Hub failure becomes one readable line
        raise explain(error, token) from None
    for index, commit in enumerate(commits):
        created = False
        try:
            try:
                remote = set(api.list_repo_files(commit.repo_id, repo_type=commit.repo_type,
                                                 revision=commit.revision if commit.revision else None))
            except RepositoryNotFoundError:
                remote = set()
                created = True  # from here on, a failure may leave a repo this run asked for: remove it
                api.create_repo(commit.repo_id, repo_type=commit.repo_type, private=commit.private, exist_ok=True,
                                space_sdk="gradio" if commit.repo_type == "space" else None)
            if commit.revision:
                api.create_branch(commit.repo_id, branch=commit.revision, repo_type=commit.repo_type, exist_ok=True)
            local = [str(path.relative_to(commit.folder)) for path in sorted(commit.folder.rglob("*")) if path.is_file()]
            operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(commit.folder / name))
                          for name in local]
            operations += [CommitOperationDelete(path_in_repo=name)
                           for name in sorted(remote - set(local) - {".gitattributes"})]
            info = api.create_commit(commit.repo_id, operations, commit_message=commit.message,
                                     repo_type=commit.repo_type, revision=commit.revision)
            published.append(commit.repo_id)
            print(f"Published {commit.repo_type} {commit.repo_id}: {getattr(info, 'commit_url', info)}")
        except Exception as error:  # noqa: BLE001 - every Hub failure becomes one readable line
            removed = False
            if created:
                try:
                    api.delete_repo(commit.repo_id, repo_type=commit.repo_type, missing_ok=True)
                    removed = True
                except Exception:  # noqa: BLE001 - the message below still names the repo
                    pass
            untouched = [other.repo_id for other in commits[index + 1:]]
            reason = error if isinstance(error, PublishError) else explain(error, token)
            raise PublishError(
                f"{commit.repo_type} {commit.repo_id} failed: {reason}"
                + ("; the repo this run created was removed again" if removed else "")
                + (f"; already published: {', '.join(published)}" if published else "; nothing was published")
                + (f"; not touched: {', '.join(untouched)}" if untouched else "")) from None


# ----------------------------------------------------------------------- CLI
def plan_commits(args, workdir: Path) -> list[Commit]:
    names = plugin_names() if args.plugin == "all" else [args.plugin]
    plugins = {name: get_plugin(name) for name in names}
    if args.plugin == "all":
        if args.repo_id or args.weights:
            raise PublishError("with 'all', give --owner ORG instead of --repo-id/--weights: each shipped model "
                               "goes to ORG/<folder name>")
        targets = [(plugin, PRETRAINED / folder, f"{args.owner}/{folder}")
                   for plugin in plugins.values() for folder in plugin.weight_folders().values()
                   if (PRETRAINED / folder).is_dir()]
    else:
        if not args.repo_id:
            raise PublishError("--repo-id ORG/NAME is required (or use 'all' with --owner)")
        plugin = plugins[args.plugin]
        targets = [(plugin, Path(args.weights) if args.weights else PRETRAINED / next(iter(plugin.weight_folders().values())),
                    args.repo_id)]
    commits = []
    for plugin, weights, repo_id in targets:
        if repo_id.count("/") != 1:
            raise PublishError(f"repo id {repo_id!r} must look like ORG/NAME")
        folder = build_model_folder(plugin, weights, repo_id, workdir / "models" / repo_id.split("/")[1])
        commits.append(Commit(repo_id, "model", folder, args.private, args.revision,
                              args.commit_message or f"Upload {plugin.name} ({weights.name}) from the hub's train.py",
                              file_manifest(folder)))
    if args.space:
        if args.revision:
            raise PublishError("--revision with --space: a Space runs its main branch only, and from there it would "
                               "load the models' main, not the branch; publish the Space without --revision")
        # The Space links (and loads from the Hub) only the repos this plan publishes; the plugin's other shipped
        # folders travel inside it as its own copies.
        model_repos = {weights.name: repo_id for _, weights, repo_id in targets}
        space_id = args.space_id or (f"{targets[0][2].split('/')[0]}/"
                                     f"{'deep-structured-learning-hub' if args.plugin == 'all' else args.plugin}")
        shipped = [folder for plugin in plugins.values() for folder in plugin.weight_folders().values()
                   if (PRETRAINED / folder).is_dir()]
        folder = build_space_folder(names, model_repos, workdir / "spaces" / space_id.split("/")[1], shipped)
        commits.append(Commit(space_id, "space", folder, args.private, args.revision,
                              args.commit_message or "Upload the Gradio Space", file_manifest(folder)))
    return commits


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plugin", help="plugin name, or 'all'")
    parser.add_argument("--repo-id", help="ORG/NAME of the model repo (one plugin)")
    parser.add_argument("--owner", default=os.environ.get("DSL_HUB_OWNER", DEFAULT_HUB_OWNER),
                        help="namespace for 'all' (default: %(default)s)")
    parser.add_argument("--weights", help="save_pretrained folder to publish (default: the plugin's first shipped "
                        "folder, pretrained/<plugin> for most)")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--revision", help="branch to commit to (created if missing)")
    parser.add_argument("--commit-message")
    parser.add_argument("--dry-run", metavar="OUT_DIR", help="write the folders and the commit plan here; no network")
    parser.add_argument("--space", action="store_true", help="also publish the plugin's Gradio Space")
    parser.add_argument("--space-id", help="ORG/NAME of the Space (default: <org of the model>/<plugin>)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.dry_run:
            workdir = Path(args.dry_run)
            commits = plan_commits(args, workdir)
            (workdir / "commit-plan.json").write_text(json.dumps([commit.plan() for commit in commits], indent=2) + "\n")
            for commit in commits:
                print(f"[dry run] {commit.repo_type} {commit.repo_id}: {len(commit.files)} files in {commit.folder}")
            print(f"[dry run] commit plan: {workdir / 'commit-plan.json'}; nothing was sent")
            return 0
        import tempfile

        with tempfile.TemporaryDirectory(prefix="hub-upload-") as workdir:
            push(plan_commits(args, Path(workdir)))
        return 0
    except (PublishError, UnknownPluginError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
