#!/usr/bin/env python3
"""Static checks of the Odoo addons under odoo_addon/ that need no Odoo.

    scripts/check-addon.py [ADDON_DIR ...]

Checks that every .py file compiles, every .xml file is well formed, the
manifest is a literal dict with an 18.0.x.y.z version, a license and existing
data/asset files, the access CSV has Odoo's columns and names models and
groups that exist, and bridge_contract.json (when present) is valid JSON.
Prints one line per problem and exits 1 when there is any.
"""

import ast
import csv
import glob
import json
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCESS_HEADER = [
    "id",
    "name",
    "model_id:id",
    "group_id:id",
    "perm_read",
    "perm_write",
    "perm_create",
    "perm_unlink",
]
VERSION_RE = re.compile(r"^18\.0\.\d+\.\d+\.\d+$")
README_FRAGMENTS = ("DESCRIPTION.md", "USAGE.md", "CONFIGURE.md")


class Checker:
    """Collects the problems found in one addon."""

    def __init__(self, addon: Path):
        self.addon = addon
        self.name = addon.name
        self.problems = []

    def problem(self, path, message):
        try:
            shown = Path(path).relative_to(REPO_ROOT)
        except ValueError:
            shown = path
        self.problems.append(f"{shown}: {message}")

    def files(self, suffix):
        return sorted(p for p in self.addon.rglob(f"*{suffix}") if "__pycache__" not in p.parts)

    def check_python(self):
        for path in self.files(".py"):
            try:
                compile(path.read_text(encoding="utf-8"), str(path), "exec")
            except (SyntaxError, UnicodeDecodeError) as error:
                self.problem(path, f"does not compile: {error}")

    def check_xml(self):
        for path in self.files(".xml"):
            try:
                ElementTree.parse(path)
            except ElementTree.ParseError as error:
                self.problem(path, f"not well formed: {error}")

    def manifest(self):
        path = self.addon / "__manifest__.py"
        try:
            manifest = ast.literal_eval(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, SyntaxError) as error:
            self.problem(path, f"not a literal dict: {error}")
            return None
        if not isinstance(manifest, dict):
            self.problem(path, "not a dict")
            return None
        return manifest

    def check_manifest(self, manifest):
        path = self.addon / "__manifest__.py"
        for key in ("name", "version", "license", "depends", "summary"):
            if not manifest.get(key):
                self.problem(path, f"missing or empty '{key}'")
        if not VERSION_RE.match(str(manifest.get("version", ""))):
            self.problem(path, f"version {manifest.get('version')!r} is not 18.0.x.y.z")
        for data_key in ("data", "demo"):
            for relative in manifest.get(data_key, []):
                if not (self.addon / relative).is_file():
                    self.problem(path, f"{data_key} file {relative} does not exist")
        for bundle, entries in manifest.get("assets", {}).items():
            for entry in entries:
                pattern = entry[-1] if isinstance(entry, (list, tuple)) else entry
                if not pattern.startswith(f"{self.name}/"):
                    continue
                matches = glob.glob(str(self.addon.parent / pattern), recursive=True)
                if not [m for m in matches if Path(m).is_file()]:
                    self.problem(path, f"asset {pattern} ({bundle}) matches no file")
        for fragment in README_FRAGMENTS:
            if not (self.addon / "readme" / fragment).is_file():
                self.problem(self.addon / "readme", f"missing {fragment}")
        if not (self.addon / "static" / "description" / "icon.png").is_file():
            self.problem(self.addon, "missing static/description/icon.png")
        if not (self.addon / "i18n" / f"{self.name}.pot").is_file():
            self.problem(self.addon, f"missing i18n/{self.name}.pot")

    def defined_models(self):
        models = set()
        for path in self.files(".py"):
            text = path.read_text(encoding="utf-8")
            models.update(re.findall(r"^\s+_name\s*=\s*['\"]([\w.]+)['\"]", text, re.M))
        return {"model_" + m.replace(".", "_") for m in models}

    def defined_groups(self):
        groups = set()
        for path in self.files(".xml"):
            try:
                root = ElementTree.parse(path).getroot()
            except ElementTree.ParseError:
                continue
            for record in root.iter("record"):
                if record.get("model") == "res.groups" and record.get("id"):
                    groups.add(record.get("id"))
        return groups

    def check_access_csv(self, manifest):
        depends = set(manifest.get("depends", [])) | {"base"}
        models = self.defined_models()
        groups = self.defined_groups()
        for path in self.files("ir.model.access.csv"):
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle))
            if not rows or rows[0] != ACCESS_HEADER:
                self.problem(path, f"header must be {','.join(ACCESS_HEADER)}")
                continue
            seen = set()
            for number, row in enumerate(rows[1:], start=2):
                if not row:
                    continue
                if len(row) != len(ACCESS_HEADER):
                    self.problem(path, f"line {number}: {len(row)} columns instead of 8")
                    continue
                xmlid, _name, model, group, *perms = row
                if xmlid in seen:
                    self.problem(path, f"line {number}: duplicate id {xmlid}")
                seen.add(xmlid)
                if any(p not in ("0", "1") for p in perms):
                    self.problem(path, f"line {number}: permissions must be 0 or 1")
                self.check_reference(path, number, model, models, depends, "model")
                if group:
                    self.check_reference(path, number, group, groups, depends, "group")

    def check_reference(self, path, number, ref, local, depends, kind):
        module, _, name = ref.rpartition(".")
        if module in ("", self.name):
            if name not in local:
                self.problem(path, f"line {number}: {kind} {ref} is not defined in this addon")
        elif module not in depends and not self.depends_transitively(module):
            self.problem(path, f"line {number}: {kind} {ref} comes from {module}, not a dependency")
        elif kind == "model" and not name.startswith("model_"):
            self.problem(path, f"line {number}: {ref} is not a model xml id")

    def depends_transitively(self, module):
        # Without an Odoo tree we only know the standard chain mail -> base.
        return module in {"base", "web", "bus", "mail"}

    def check_contract(self):
        path = self.addon / "bridge_contract.json"
        if path.exists():
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except ValueError as error:
                self.problem(path, f"not valid JSON: {error}")

    def run(self):
        self.check_python()
        self.check_xml()
        manifest = self.manifest()
        if manifest is not None:
            self.check_manifest(manifest)
            self.check_access_csv(manifest)
        self.check_contract()
        return self.problems


def main(argv):
    addons = [Path(a).resolve() for a in argv] or sorted(
        p.parent for p in (REPO_ROOT / "odoo_addon").glob("*/__manifest__.py")
    )
    if not addons:
        print("check-addon: no addon found")
        return 1
    problems = []
    for addon in addons:
        problems += Checker(addon).run()
    for line in problems:
        print(line)
    names = ", ".join(a.name for a in addons)
    if problems:
        print(f"check-addon: {len(problems)} problem(s) in {names}")
        return 1
    print(f"check-addon: {names} OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
