"""``flowengine audit keygen``, ``audit checkpoint`` and ``audit prove``: signed checkpoints that hold
against the database's owner, and what ``audit verify --checkpoint`` and ``tick --checkpoint-dir``
share of them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .helptext import Command
from .options import database_option
from .session import open_engine
from .views import to_json

if TYPE_CHECKING:
    from flowengine.proof.checkpoint import Checkpoint
    from flowengine.service.checkpoints import CheckpointReport

F = TypeVar("F", bound=Callable[..., Any])
KEY_ENV = "FLOWENGINE_CHECKPOINT_KEY"
FILE = click.Path(dir_okay=False, path_type=Path)


def key_option(name: str = "--key") -> Callable[[F], F]:
    return click.option(name, "key", metavar="KEYFILE", type=FILE, envvar=KEY_ENV,
                        help="The private key that signs (made by `flowengine audit keygen`; also "
                             "$FLOWENGINE_CHECKPOINT_KEY).")


def public_key_option(func: F) -> F:
    return click.option("--public-key", "public_key", metavar="KEYFILE", type=click.Path(dir_okay=False, exists=True,
                                                                                          path_type=Path),
                        help="The key the checkpoints must be signed by: KEYFILE.pub (or the private key). "
                             "Without it, one key for all of them is required and its id is shown.")(func)


def signer(key: Path | None) -> Any:
    if key is None:
        raise click.UsageError(f"say which key signs: --key KEYFILE (or set {KEY_ENV}); make one with "
                               "flowengine audit keygen -o KEYFILE")
    from flowengine.proof.keyfiles import read_signer

    return read_signer(key)


def trusted(public_key: Path | None) -> bytes | None:
    if public_key is None:
        return None
    from flowengine.proof.keyfiles import read_public

    return read_public(public_key)


@click.command(cls=Command)
@click.option("-o", "--output", "output", metavar="KEYFILE", type=FILE, required=True,
              help="Where to write the private key (mode 0600); the public key goes to KEYFILE.pub.")
def keygen(output: Path) -> None:
    """Make an Ed25519 key pair to sign checkpoints with; never overwrites a key.

    Keep the private key where the database's owner cannot reach it (the auditor's machine),
    and hand KEYFILE.pub to whoever checks the checkpoints.

    \b
    Example:
      flowengine audit keygen -o ~/.config/flowengine/checkpoint.key
    """
    from flowengine.i18n import t
    from flowengine.proof.checkpoint import fingerprint
    from flowengine.proof.keyfiles import write_key_pair

    public, raw = write_key_pair(output)
    click.echo(t("private key {private} (its owner's alone: keep it away from the database), public key {public}, "
                 "key id {key}", private=output, public=public, key=fingerprint(raw)))


@click.command(cls=Command)
@key_option()
@click.option("-o", "--output", "output", metavar="FILE|DIR", required=True,
              help="The checkpoint file to write (never overwritten), or a folder to write it into as "
                   "checkpoint-TIME.json; - for standard output.")
@database_option
def checkpoint(key: Path | None, output: str, database: str | None) -> None:
    """Sign every chain's head now: proposal, length and head hash, their Merkle root and the time.

    Keep the file outside the database (or publish it); `flowengine audit verify --checkpoint FILE`
    later proves that nothing recorded before it was changed, removed or reordered. Refused while
    any history fails the plain audit.

    \b
    Example:
      flowengine audit checkpoint --key auditor.key -o checkpoints/2019-06-30.json
      flowengine audit checkpoint --key auditor.key -o checkpoints/
    """
    sign_with = signer(key)
    with open_engine(database, read_only=True) as engine:
        taken = engine.checkpoint(sign_with)
    written: Path | None = None
    if output == "-":
        click.echo(taken.to_json(), nl=False)
    else:
        from flowengine.proof.checkpoint import write, write_in

        # "checkpoints/" names a folder even before it exists: refused as missing, never a file "checkpoints"
        as_folder = output.endswith(("/", os.sep)) or Path(output).is_dir()
        written = write_in(taken, Path(output)) if as_folder else write(taken, Path(output))
    click.echo(taken_text(taken, written), err=True)


def taken_text(taken: Checkpoint, path: Path | None) -> str:
    from flowengine.i18n import t

    text = t("checkpoint of {n} chain(s), root {root}, signed by key {key}", n=len(taken.heads), root=taken.root,
             key=taken.key_id)
    return f"{text}: {path}" if path else text


@click.command(cls=Command)
@click.argument("proposal_id", metavar="ID")
@click.option("--checkpoint", "checkpoint_file", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path), help="The checkpoint to prove it by.")
@public_key_option
@click.option("-o", "--output", "output", metavar="FILE", type=FILE, help="Write the proof to FILE, not to the screen.")
def prove(proposal_id: str, checkpoint_file: Path, public_key: Path | None, output: Path | None) -> None:
    """Print the compact proof that proposal ID's history, up to its head then, is in a checkpoint.

    A third party checks it with the public key alone: the signature over the note, then the
    leaf hashed up the audit path to the note's root (README: "Checking a proof without flowengine").

    \b
    Example:
      flowengine audit prove INN-7 --checkpoint checkpoints/2019-06-30.json --public-key auditor.key.pub
    """
    from flowengine.errors import InvalidInput
    from flowengine.i18n import t
    from flowengine.proof import checkpoint as checkpoints
    from flowengine.proof.checkpoint import fingerprint

    taken = checkpoints.read(checkpoint_file)
    problems = taken.problems()
    expected = trusted(public_key)
    if expected is not None and expected != taken.public_key:
        problems.insert(0, t("it is signed by key {key}, not by the trusted key {trusted}", key=taken.key_id,
                             trusted=fingerprint(expected)))
    if problems:
        raise InvalidInput(t("{file} proves nothing: {problems}", file=checkpoint_file, problems="; ".join(problems)))
    proof = to_json(checkpoints.inclusion(taken, proposal_id.strip().upper())) + "\n"
    if output is None:
        click.echo(proof, nl=False)
        return
    from flowengine.atomicfile import replacing

    with replacing(output, t("could not write {file}", file=output), InvalidInput) as temp:
        temp.write_text(proof, encoding="utf-8")


def checkpoint_files_option(func: F) -> F:
    return click.option("--checkpoint", "checkpoint_files", metavar="FILE|DIR", multiple=True,
                        type=click.Path(exists=True, path_type=Path),
                        help="Also hold the database to this checkpoint, or to every one in a folder (repeatable): "
                             "each chain it lists must still have that head at that length, and each later "
                             "checkpoint must extend the earlier ones.")(func)


def conversion_files_option(func: F) -> F:
    return click.option("--conversion", "conversion_files", metavar="FILE", multiple=True,
                        type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="A conversion record (from `flowengine audit convert-personal`; repeatable): a chain "
                             "it re-sealed is held to earlier checkpoints through it. Records in a --checkpoint "
                             "folder are read too.")(func)


def check(engine: Any, files: tuple[Path, ...], public_key: Path | None,
          conversions: tuple[Path, ...] = ()) -> CheckpointReport:
    from flowengine.proof.conversion import read_all, read_series

    taken, records = read_series(files)
    records += [record for record in read_all(conversions) if record.source not in {r.source for r in records}]
    report: CheckpointReport = engine.verify_checkpoints(taken, trusted_key=trusted(public_key), records=records)
    return report


def report_text(report: CheckpointReport) -> tuple[list[str], str]:
    """A line per finding, and the verdict."""
    from flowengine.i18n import t

    findings = [f"{finding.chain or finding.checkpoint}: "
                + (t("against {checkpoint}: ", checkpoint=finding.checkpoint) if finding.chain else "")
                + finding.problem for finding in report.findings]
    if report.trusted_key:
        keys = t("signed by the trusted key {key}", key=report.trusted_key)
    else:
        keys = t("signed by key {keys} (not pinned: give the public key to be sure it is yours)",
                 keys=", ".join(report.key_ids))
    verdict = t("every chain holds its recorded head") if report.ok else t("{n} finding(s)", n=len(report.findings))
    summary = t("{checkpoints} checkpoint(s), {chains} recorded head(s) compared, {keys}: {verdict}",
                checkpoints=len(report.checkpoints), chains=report.chains, keys=keys, verdict=verdict)
    if report.records:
        summary += "\n" + t("{records} conversion record(s): {derived} converted step(s) hash as before from their "
                             "kept values; {erased} erased since rest on the signed record",
                             records=len(report.records), derived=report.converted, erased=report.unchecked)
    for label in report.unfollowed:
        summary += "\n" + unfollowed_text(label)
    return findings, summary


def unfollowed_text(label: str) -> str:
    """A conversion record no checkpoint was taken after, and how to complete the series."""
    from flowengine.errors import Remedy
    from flowengine.i18n import t

    from .remedies import hint

    return t("{record}: no checkpoint taken after this conversion is among those given (the conversion was "
             "interrupted before it wrote its checkpoint after, or that file was not kept); the record holds the "
             "earlier checkpoints to the converted histories, and a checkpoint signed now completes the series",
             record=label) + hint([Remedy("checkpoint", str(Path(label).parent))])
