"""The README and docs/references.md agree with the code and with each other."""
from __future__ import annotations

import re

from .conftest import ROOT


def test_readme_kinetics_commands_write_where_the_config_reads():
    """The README's Kinetics lists, videos and data prefix are the folder the Kinetics config reads."""
    from mmengine.config import Config
    readme = (ROOT / 'README.md').read_text()
    cfg = Config.fromfile(ROOT / 'configs/_base_/datasets/kinetics400.py')
    command = re.search(r'build_lists\.py kinetics400 (.*?)\n(?!\s)', readme, re.S)[1]
    out = re.search(r'--out (\S+)', command)[1]
    dataset = cfg.train_dataloader.dataset
    assert out == cfg.data_root == dataset.data_prefix and dataset.ann_file == f'{out}/train.txt'
    assert all(root.startswith(f'{out}/') for root in re.findall(r'--(?:train|val)-root (\S+)', command))
    for line in re.findall(r'(?:check_videos|extract_frames)\.py data/\S*val\.txt.*', readme):
        assert f'{out}/val.txt --data-prefix {out} ' in line, line


def test_docs_references_links_resolve():
    """Every link from the README into docs/references.md names one of its sections."""
    text = (ROOT / 'docs' / 'references.md').read_text()
    anchors = {re.sub(r'[^\w\- ]', '', h.lower()).replace(' ', '-') for h in re.findall(r'^#+ (.+)$', text, re.M)}
    readme = (ROOT / 'README.md').read_text()
    links = re.findall(r'docs/references\.md#([\w-]+)', readme)
    assert links and set(links) <= anchors, set(links) - anchors


# Spelled in pieces so this file does not itself name them.
OUTSIDE_NOTES = ('..' + '/shared', 'REFERENCE' + '.md')


def test_nothing_cites_files_outside_the_repository():
    """The facts live in docs/references.md; no file points at notes kept outside the repository."""
    files = [ROOT / 'README.md', ROOT / 'Makefile', *ROOT.glob('docs/*.md'),
             *(p for top in ('gfvideo', 'tools', 'tests', 'configs', 'data_prep', 'benchmarks')
               for p in (ROOT / top).rglob('*.py'))]
    for path in files:
        if path.name == 'test_docs.py' or not path.exists():
            continue
        text = path.read_text()
        assert not any(name in text for name in OUTSIDE_NOTES), path
