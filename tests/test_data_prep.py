"""Data preparation on small on-disk copies of the official formats: annotation loaders,
list building (with missing videos reported), video checking, resumable frame extraction."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfvideo.data import (AnnotationError, VideoDataset, find_missing, load_class_folders,
                          load_kinetics400, load_list_file, load_sthv1, write_video)
from gfvideo.data.checking import check_videos, collect_videos
from gfvideo.data.extraction import extract_videos
from gfvideo.data.workers import run_tasks
from tests.test_data_pipeline import truncate, write_audio_only, write_faststart_mp4

ROOT = Path(__file__).resolve().parent.parent
FR, H, W = 8, 32, 48
STH1_CLASSES = ['Pushing something', 'Dropping something', 'Holding something']  # file order
K400_HEADER = 'label,youtube_id,time_start,time_end,split'


def clip_frames(seed: int, num: int = FR) -> np.ndarray:
    """A smooth moving gradient (compresses well) with a per-clip offset."""
    y, x = np.mgrid[:H, :W]
    k = np.arange(num)[:, None, None]
    base = (x * 4 + y * 3 + 9 * k + 40 * seed) % 200 + 30
    return np.stack([base, base // 2, 255 - base], -1).astype(np.uint8)


def run_script(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def read_tsv(path: Path) -> dict[str, list[str]]:
    rows = [line.split('\t') for line in path.read_text().splitlines()[1:]]
    return {Path(r[0]).name: r[1:] for r in rows}


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('prep')
    d: dict[str, Path] = {'root': root}

    # Something-Something V1: label CSV, id;label CSVs, JPEG frame folders
    s1 = root / 'sthv1'
    (s1 / 'frames').mkdir(parents=True)
    (s1 / 'labels.csv').write_text('\n'.join(STH1_CLASSES) + '\n')
    (s1 / 'train.csv').write_text('1;Pushing something\n2;Dropping something\n'
                                  '5;Holding something\n')
    (s1 / 'val.csv').write_text('3;Holding something\n4;Pushing something\n6;Dropping something\n')
    for clip_id, num in ((1, 3), (2, 4), (3, 2), (4, 5)):
        folder = s1 / 'frames' / str(clip_id)
        folder.mkdir()
        for i in range(num):
            Image.fromarray(clip_frames(clip_id)[i]).save(folder / f'{i + 1:05d}.jpg')
    (s1 / 'frames' / '6').mkdir()  # a frame folder without frames; 5 has no folder at all
    d['sthv1'] = s1

    # Something-Something V2: labels JSON, annotation JSON, webm videos (id 12 missing)
    s2 = root / 'sthv2'
    (s2 / 'videos').mkdir(parents=True)
    (s2 / 'labels.json').write_text(json.dumps({'Approaching something': '0',
                                                'Holding something next to something': '1'}))
    entries = [dict(id='10', label='x', template='Holding [something] next to [something]',
                    placeholders=['a', 'b']),
               dict(id='11', label='y', template='Approaching [something]', placeholders=['c']),
               dict(id='12', label='z', template='Approaching [something]', placeholders=['d'])]
    (s2 / 'train.json').write_text(json.dumps(entries))
    for i in (10, 11):
        write_video(s2 / 'videos' / f'{i}.webm', clip_frames(i), codec='vp9')
    d['sthv2'] = s2

    # Kinetics-400: CSVs with and without is_cc; folder per class ('air drumming' as _)
    k = root / 'k400'
    good = []
    for label, ytid, seed in (('abseiling', 'abs-1', 1), ('abseiling', 'abs_2', 2),
                              ('air drumming', 'air1', 3), ('zumba', 'zum1', 4)):
        good.append((label, ytid, 10 * seed, 10 * seed + 10))
        name = f'{ytid}_{10 * seed:06d}_{10 * seed + 10:06d}.mp4'
        write_video(k / 'videos' / label.replace(' ', '_') / name, clip_frames(seed), codec='h264')
    zdir = k / 'videos' / 'zumba'
    (zdir / 'zero_000001_000002.mp4').write_bytes(b'')
    fast = write_faststart_mp4(root / 'fast.mp4', clip_frames(7, 16))
    truncate(fast, zdir / 'short_000003_000004.mp4', 0.6)         # header promises 16 frames
    truncate(k / 'videos' / 'abseiling' / 'abs-1_000010_000020.mp4',
             zdir / 'trunc_000005_000006.mp4', 0.5)               # moov atom lost: unopenable
    write_audio_only(zdir / 'audio_000007_000008.mp4')            # no video stream
    bad = [('zumba', 'zero', 1, 2), ('zumba', 'short', 3, 4), ('zumba', 'trunc', 5, 6),
           ('zumba', 'audio', 7, 8)]
    rows = good + bad + [('zumba', 'gone', 100, 110)]                # 'gone' has no file
    (k / 'train.csv').write_text(K400_HEADER + ',is_cc\n' + ''.join(
        f'{lab},{yt},{s},{e},train,0\n' for lab, yt, s, e in rows))
    (k / 'val.csv').write_text(K400_HEADER + '\n' + ''.join(
        f'"{lab}",{yt},{s},{e},val\n' for lab, yt, s, e in good[:3]))
    d['k400'] = k

    # a folder per class
    f = root / 'folder'
    for cls, seed in (('b_cls', 5), ('a_cls', 6), ('a_cls', 8)):
        write_video(f / 'train' / cls / f'v{seed}.mp4', clip_frames(seed), codec='h264')
    (f / 'train' / 'a_cls' / 'notes.txt').write_text('not a video')
    write_video(f / 'val' / 'b_cls' / 'v9.mp4', clip_frames(9), codec='h264')
    d['folder'] = f
    return d


# ----------------------------------------------------------------------------- loaders

def test_sthv1_both_class_orders(data):
    s1 = data['sthv1']
    recs, names = load_sthv1(s1 / 'train.csv', s1 / 'labels.csv', s1 / 'frames', class_order='file')
    assert names == STH1_CLASSES
    assert [(r.clip_id, r.label, r.num_frames) for r in recs] == [('1', 0, None), ('2', 1, None),
                                                                   ('5', 2, None)]
    assert recs[0].path == os.path.join(s1 / 'frames', '1')
    recs, names = load_sthv1(s1 / 'train.csv', s1 / 'labels.csv', s1 / 'frames',
                             class_order='alphabetical')
    assert names == sorted(STH1_CLASSES)
    assert [names[r.label] for r in recs] == ['Pushing something', 'Dropping something',
                                              'Holding something']
    assert [r.label for r in recs] == [2, 0, 1]
    with pytest.raises(TypeError):
        load_sthv1(s1 / 'train.csv', s1 / 'labels.csv', s1 / 'frames')  # no silent default
    with pytest.raises(ValueError, match='class_order'):
        load_sthv1(s1 / 'train.csv', s1 / 'labels.csv', s1 / 'frames', class_order='index')


@pytest.mark.parametrize('line, reason', [('7;Juggling something', 'not in'),
                                          ('7;', 'expected'), (';Pushing something', 'expected'),
                                          ('7 8;Pushing something', 'expected')])
def test_sthv1_bad_line_names_file_and_line(data, tmp_path, line, reason):
    ann = tmp_path / 'ann.csv'
    ann.write_text(f'1;Pushing something\n{line}\n')
    with pytest.raises(AnnotationError, match=rf'ann\.csv:2: .*{reason}'):
        load_sthv1(ann, data['sthv1'] / 'labels.csv', 'frames', class_order='file')


def test_sthv1_test_split_has_no_labels(data, tmp_path):
    ann = tmp_path / 'test.csv'
    ann.write_text('11\n12\n')
    recs, _ = load_sthv1(ann, data['sthv1'] / 'labels.csv', 'frames', class_order='file')
    assert [(r.clip_id, r.label) for r in recs] == [('11', -1), ('12', -1)]


def test_kinetics_csv_with_and_without_is_cc(data):
    k = data['k400']
    train, names = load_kinetics400(k / 'train.csv', k / 'videos')
    assert names == ['abseiling', 'air drumming', 'zumba']
    assert len(train) == 9
    assert train[0].clip_id == 'abs-1_000010_000020' and train[0].label == 0
    assert train[2].path == str(k / 'videos' / 'air_drumming' / 'air1_000030_000040.mp4')
    assert train[2].label == 1
    val, val_names = load_kinetics400(k / 'val.csv', k / 'videos', class_names=names)
    assert val_names == names and val == train[:3]  # the same clips, quoted, no is_cc column
    assert [r.clip_id for r in find_missing(train)] == ['gone_000100_000110']


def test_kinetics_label_folder_with_spaces_and_errors(tmp_path):
    (tmp_path / 'v' / 'air drumming').mkdir(parents=True)
    (tmp_path / 'v' / 'air drumming' / 'a_000001_000002.mp4').write_bytes(b'x')
    csv = tmp_path / 'k.csv'
    csv.write_text(K400_HEADER + '\nair drumming,a,1,2,val\nair drumming,b,1,2,val\n')
    recs, _ = load_kinetics400(csv, tmp_path / 'v')
    assert recs[0].path == str(tmp_path / 'v' / 'air drumming' / 'a_000001_000002.mp4')
    assert recs[1].path == str(tmp_path / 'v' / 'air_drumming' / 'b_000001_000002.mp4')
    with pytest.raises(AnnotationError, match=r"k\.csv:2: class 'air drumming' is not in"):
        load_kinetics400(csv, tmp_path / 'v', class_names=['zumba'])
    for bad, reason in (('zumba,a,1,val', 'expected 5 fields'),
                        ('zumba,a,one,2,val', 'time_start/time_end are not whole')):
        csv.write_text(f'{K400_HEADER}\nzumba,z,1,2,val\n{bad}\n')
        with pytest.raises(AnnotationError, match=rf'k\.csv:3: {reason}'):
            load_kinetics400(csv, tmp_path / 'v')
    csv.write_text('youtube_id,label\n')
    with pytest.raises(AnnotationError, match=r'k\.csv:1: header lacks'):
        load_kinetics400(csv, tmp_path / 'v')


def test_class_folders(data):
    recs, names = load_class_folders(data['folder'] / 'train')
    assert names == ['a_cls', 'b_cls']
    assert [(r.clip_id, r.label) for r in recs] == [('v6', 0), ('v8', 0), ('v5', 1)]
    val, _ = load_class_folders(data['folder'] / 'val', class_names=['a_cls', 'b_cls'])
    assert [(r.clip_id, r.label) for r in val] == [('v9', 1)]
    with pytest.raises(AnnotationError, match='not in the given class names'):
        load_class_folders(data['folder'] / 'val', class_names=['a_cls'])
    assert find_missing(recs) == []


# ----------------------------------------------------------------------------- build_lists

def build_lists(*args: str) -> None:
    from data_prep.build_lists import main
    assert main([*args, '--no-progress']) == 0


def test_build_lists_sthv1_frames_and_missing(data, tmp_path, capsys):
    s1 = data['sthv1']
    for order in ('file', 'alphabetical'):
        out = tmp_path / order
        build_lists('sthv1', '--labels', str(s1 / 'labels.csv'), '--train', str(s1 / 'train.csv'),
                    '--val', str(s1 / 'val.csv'), '--frames-root', str(s1 / 'frames'),
                    '--class-order', order, '--out', str(out))
        names = (out / 'classes.txt').read_text().splitlines()
        assert names == (STH1_CLASSES if order == 'file' else sorted(STH1_CLASSES))
        idx = names.index
        assert (out / 'train.txt').read_text().splitlines() == [
            f'1 3 {idx("Pushing something")}', f'2 4 {idx("Dropping something")}']
        assert (out / 'val.txt').read_text().splitlines() == [
            f'3 2 {idx("Holding something")}', f'4 5 {idx("Pushing something")}']
        missing = [line.split('\t')[:3] for line in (out / 'missing.txt').read_text().splitlines()]
        assert missing == [['train', '5', 'not found'], ['val', '6', 'no frames']]
        printed = capsys.readouterr().out
        assert 'missing videos: 2' in printed and f'class order: {order}' in printed
    # the list feeds the dataset as a rawframe list
    ds = VideoDataset(str(out / 'train.txt'), [], data_prefix=str(s1 / 'frames'),
                      num_segments=2, test_mode=True)
    assert ds[0]['inputs'].shape[:2] == (2, 3)


def test_build_lists_sthv2_and_folder(data, tmp_path, capsys):
    s2, f = data['sthv2'], data['folder']
    build_lists('sthv2', '--labels', str(s2 / 'labels.json'), '--train', str(s2 / 'train.json'),
                '--videos-root', str(s2 / 'videos'), '--out', str(tmp_path / 's2'))
    assert (tmp_path / 's2' / 'train.txt').read_text().splitlines() == ['10.webm 1', '11.webm 0']
    assert (tmp_path / 's2' / 'missing.txt').read_text().startswith('train\t12\tnot found\t')
    build_lists('folder', '--train-root', str(f / 'train'), '--val-root', str(f / 'val'),
                '--out', str(tmp_path / 'f'))
    assert (tmp_path / 'f' / 'train.txt').read_text().splitlines() == [
        'train/a_cls/v6.mp4 0', 'train/a_cls/v8.mp4 0', 'train/b_cls/v5.mp4 1']
    assert (tmp_path / 'f' / 'val.txt').read_text().splitlines() == ['val/b_cls/v9.mp4 1']
    assert (tmp_path / 'f' / 'missing.txt').read_text() == ''
    assert f'data_prefix for these lists: {f}' in capsys.readouterr().out


def test_build_lists_script_kinetics(data, tmp_path, capsys):
    import importlib
    k, out = data['k400'], tmp_path / 'k'
    for script in ('build_lists', 'check_videos', 'extract_frames'):   # as scripts: the other tests run them
        with pytest.raises(SystemExit) as stop:
            importlib.import_module(f'data_prep.{script}').main(['--help'])
        assert stop.value.code == 0 and 'usage:' in capsys.readouterr().out
    proc = run_script('data_prep/build_lists.py', 'kinetics400', '--train', str(k / 'train.csv'),
                      '--val', str(k / 'val.csv'), '--videos-root', str(k / 'videos'),
                      '--out', str(out))
    assert 'missing videos: 1' in proc.stdout
    assert (out / 'classes.txt').read_text().splitlines() == ['abseiling', 'air drumming', 'zumba']
    train = (out / 'train.txt').read_text().splitlines()
    assert len(train) == 8 and train[2] == 'air_drumming/air1_000030_000040.mp4 1'
    assert len((out / 'val.txt').read_text().splitlines()) == 3
    assert (out / 'missing.txt').read_text().split('\t')[:3] == ['train', 'gone_000100_000110',
                                                                 'not found']
    recs = load_list_file(out / 'train.txt', str(k / 'videos'))
    assert all(os.path.exists(r.path) for r in recs)


def test_build_lists_reports_annotation_errors(data, tmp_path, capsys):
    from data_prep.build_lists import main
    bad = tmp_path / 'bad.csv'
    bad.write_text('\ufeff1;Pushing something\n2;Pushing something;\n')  # BOM is fine; line 2 not
    s1 = data['sthv1']
    assert main(['sthv1', '--labels', str(s1 / 'labels.csv'), '--train', str(bad),
                 '--frames-root', str(s1 / 'frames'), '--class-order', 'file',
                 '--out', str(tmp_path / 'o')]) == 1
    assert f"{bad}:2: class 'Pushing something;' is not in" in capsys.readouterr().err


# ----------------------------------------------------------------------------- checking

def test_check_videos_script_finds_each_problem(data, tmp_path):
    report = tmp_path / 'report.tsv'
    proc = run_script('data_prep/check_videos.py', str(data['k400'] / 'videos'), '--workers', '2',
                      '--timeout', '30', '--report', str(report), '--no-progress')
    assert '8 videos checked: 4 ok, 4 with problems' in proc.stdout
    rows = read_tsv(report)
    assert {name: row[0] for name, row in rows.items()} == {
        'zero_000001_000002.mp4': 'empty', 'short_000003_000004.mp4': 'short',
        'trunc_000005_000006.mp4': 'unopenable', 'audio_000007_000008.mp4': 'no_video_stream'}
    header, decoded = (int(v) for v in rows['short_000003_000004.mp4'][1:3])
    assert header == 16 and 0 < decoded < 16


def test_check_videos_list_and_webm(data, tmp_path):
    s2 = data['sthv2']
    trunc = truncate(s2 / 'videos' / '10.webm', tmp_path / 'cut.webm', 0.5)
    lst = tmp_path / 'list.txt'
    lst.write_text(f'10.webm 1\n{trunc} 0\nnope.webm 0\n')
    recs = collect_videos(lst, data_prefix=str(s2 / 'videos'))
    checks = {Path(c.path).name: c for c in check_videos([r.path for r in recs], workers=0,
                                                         progress=False)}
    assert checks['10.webm'].ok and checks['10.webm'].decoded_frames == FR
    assert checks['nope.webm'].status == 'missing'
    assert checks['cut.webm'].status in ('short', 'no_frames')  # duration x rate says 8


def _slow(item):
    if item == 'hang':
        time.sleep(60)
    if item == 'crash':
        os._exit(3)
    if item == 'raise':
        raise RuntimeError('boom')
    return item * 2


def test_worker_pool_kills_a_hung_task():
    t0 = time.monotonic()
    results = {r.item: r for r in run_tasks(_slow, ['a', 'hang', 'crash', 'b', 'raise', 'c'],
                                            workers=2, timeout=1.5)}
    assert time.monotonic() - t0 < 15
    assert {k: r.status for k, r in results.items()} == {
        'a': 'ok', 'hang': 'timeout', 'crash': 'crashed', 'b': 'ok', 'raise': 'error', 'c': 'ok'}
    assert results['c'].value == 'cc' and 'boom' in results['raise'].error


def test_check_videos_reports_a_hung_decode_as_timeout(data, monkeypatch):
    import gfvideo.data.checking as checking
    real = checking.check_video

    def hanging(path):
        if path.endswith('11.webm'):
            time.sleep(60)  # stands in for a decoder spinning in native code
        return real(path)

    monkeypatch.setattr(checking, 'check_video', hanging)  # forked workers inherit it
    paths = [str(data['sthv2'] / 'videos' / f'{i}.webm') for i in (10, 11)]
    t0 = time.monotonic()
    checks = {Path(c.path).name: c for c in check_videos(paths, workers=2, timeout=1.5,
                                                         progress=False)}
    assert time.monotonic() - t0 < 15
    assert checks['10.webm'].ok and checks['11.webm'].status == 'timeout'


# ----------------------------------------------------------------------------- extraction

def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_extract_frames_resumes_an_interrupted_run(data, tmp_path):
    k = data['k400'] / 'videos'
    lst = tmp_path / 'list.txt'
    names = ['abseiling/abs-1_000010_000020', 'abseiling/abs_2_000020_000030',
             'air_drumming/air1_000030_000040', 'zumba/zero_000001_000002',
             'zumba/trunc_000005_000006', 'zumba/audio_000007_000008', 'zumba/gone_000100_000110']
    lst.write_text(''.join(f'{n}.mp4 {i}\n' for i, n in enumerate(names)))
    full = tmp_path / 'full'
    proc = run_script('data_prep/extract_frames.py', str(lst), '--data-prefix', str(k),
                      '--out', str(full), '--short-side', '16', '--workers', '2', '--no-progress')
    assert '7 videos: 3 extracted (24 frames), 0 already complete, 4 failed' in proc.stdout
    first = full / names[0]
    assert sorted(p.name for p in first.iterdir()) == [f'{i:05d}.jpg' for i in range(1, FR + 1)]
    with Image.open(first / '00001.jpg') as img:
        assert img.size == (24, 16)  # 32x48 -> short side 16
    failed = read_tsv(full / 'extract_failures.tsv')
    assert set(failed) == {Path(n).name + '.mp4' for n in names[3:]}
    assert (full / 'frames.txt').read_text().splitlines() == [f'{n} {FR} {i}' for i, n in
                                                              enumerate(names[:3])]
    assert not list(full.rglob('*.tmp'))

    # an interrupted run: one folder complete, one partial .tmp (a few frames, one torn)
    resumed = tmp_path / 'resumed'
    done = resumed / names[0]
    done.parent.mkdir(parents=True)
    os.system(f'cp -r "{first}" "{done}"')
    (done / 'marker').write_text('kept')
    tmp = resumed / (names[1] + '.tmp')
    tmp.mkdir(parents=True)
    for i in (1, 2):
        (tmp / f'{i:05d}.jpg').write_bytes((full / names[1] / f'{i:05d}.jpg').read_bytes())
    (tmp / '00003.jpg').write_bytes(b'\xff\xd8 torn')
    recs = collect_videos(lst, data_prefix=str(k))
    summary = extract_videos(recs, resumed, short_side=16, workers=0, progress=False)
    assert set(summary.skipped) == {names[0]} and set(summary.done) == set(names[1:3])
    assert (done / 'marker').read_text() == 'kept'  # complete folders are not touched
    assert len(summary.failed) == 4
    for n in names[1:3]:
        assert folder_bytes(resumed / n) == folder_bytes(full / n)
    assert not list(resumed.rglob('*.tmp')) and not (resumed / names[3]).exists()


def test_extract_truncated_header_writes_only_decodable_frames(data, tmp_path):
    path = data['k400'] / 'videos' / 'zumba' / 'short_000003_000004.mp4'
    recs = collect_videos(path.parent)  # a folder as the source
    rec = next(r for r in recs if r.clip_id == 'short_000003_000004')
    summary = extract_videos([rec], tmp_path, workers=0, progress=False)
    n = summary.done[rec.clip_id]
    assert 0 < n < 16
    assert len(list((tmp_path / rec.clip_id).iterdir())) == n
