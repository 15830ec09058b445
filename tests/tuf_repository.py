"""A directive repository (The Update Framework) written with python-tuf's Metadata API, for
the tests of serving and mirroring: the layout ``fedharden directives publish`` writes
(consistent snapshots, hash-prefixed targets, a delegated role ``agency-CODE`` per agency for
``agency/CODE/*``). An agency's target files go to its own folder, never the national
``targets/``: the national metadata lists them by hash, the agency's collector serves them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, \
    Timestamp
from tuf.api.serialization.json import JSONSerializer

TOP = (Root.type, Timestamp.type, Snapshot.type, Targets.type)


class Repository:
    def __init__(self, path: Path, agencies: tuple[str, ...] = ("AG1",), *, expires_in: dt.timedelta | None = None
                 ) -> None:
        self.path = path
        self.expires = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + (expires_in or dt.timedelta(days=30))
        self.signers = {role: CryptoSigner.generate_ed25519() for role in TOP}
        self.agencies = {code: CryptoSigner.generate_ed25519() for code in agencies}
        self.files: dict[str, dict[str, bytes]] = {Targets.type: {}, **{self.role(c): {} for c in agencies}}
        self.versions = {name: 0 for name in [*TOP, *self.files]}
        root = Root(expires=self.expires, consistent_snapshot=True)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.root = Metadata(root)
        self.versions[Root.type] = 1
        (path / "metadata").mkdir(parents=True)
        (path / "targets").mkdir()

    @staticmethod
    def role(code: str) -> str:
        return f"agency-{code}"

    def local(self, code: str) -> Path:
        """The folder holding agency CODE's own target files (its collector's --directives-local)."""
        return self.path.parent / f"local-{code}"

    def add(self, path: str, data: bytes, agency: str | None = None) -> None:
        self.files[self.role(agency) if agency else Targets.type][path] = data

    def trusted_root(self) -> Path:
        return self.path / "metadata" / "1.root.json"

    def _write(self, name: str, md: Metadata, signer: CryptoSigner) -> bytes:
        md.signatures.clear()
        md.sign(signer)
        data = md.to_bytes(JSONSerializer(compact=False))
        (self.path / "metadata" / name).write_bytes(data)
        return data

    def _target(self, role_dir: Path, path: str, data: bytes) -> TargetFile:
        info = TargetFile.from_data(path, data, ["sha256"])
        dirname, sep, base = path.rpartition("/")
        dest = role_dir / dirname / f"{info.hashes['sha256']}.{base}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return info

    def publish(self) -> int:
        """A new repository state: every role at its next version, timestamp.json last. Its version."""
        if self.versions[Timestamp.type] == 0:
            root_bytes = self._write("1.root.json", self.root, self.signers[Root.type])
            (self.path / "metadata" / "root.json").write_bytes(root_bytes)
        meta: dict[str, MetaFile] = {}
        for code, signer in self.agencies.items():
            role = self.role(code)
            self.versions[role] += 1
            local = self.local(code) / "targets"
            targets = {p: self._target(local, p, d) for p, d in self.files[role].items()}
            md = Metadata(Targets(version=self.versions[role], expires=self.expires, targets=targets))
            self._write(f"{self.versions[role]}.{role}.json", md, signer)
            meta[f"{role}.json"] = MetaFile(version=self.versions[role])
        self.versions[Targets.type] += 1
        top = Targets(version=self.versions[Targets.type], expires=self.expires,
                      targets={p: self._target(self.path / "targets", p, d)
                               for p, d in self.files[Targets.type].items()})
        roles = {self.role(c): DelegatedRole(self.role(c), [s.public_key.keyid], 1, True, [f"agency/{c}/*"])
                 for c, s in self.agencies.items()}
        top.delegations = Delegations({s.public_key.keyid: s.public_key for s in self.agencies.values()}, roles)
        self._write(f"{top.version}.targets.json", Metadata(top), self.signers[Targets.type])
        meta["targets.json"] = MetaFile(version=top.version)
        self.versions[Snapshot.type] += 1
        snapshot = Snapshot(version=self.versions[Snapshot.type], expires=self.expires, meta=meta)
        self._write(f"{snapshot.version}.snapshot.json", Metadata(snapshot), self.signers[Snapshot.type])
        self.versions[Timestamp.type] += 1
        timestamp = Timestamp(version=self.versions[Timestamp.type], expires=self.expires,
                              snapshot_meta=MetaFile(version=snapshot.version))
        self._write("timestamp.json", Metadata(timestamp), self.signers[Timestamp.type])
        return timestamp.version
