"""gfvideo's registries: children of mmengine's, so configs name our classes by ``type``.

Everything registered lives under the ``gfvideo`` scope; configs set
``default_scope = 'gfvideo'`` and ``locations`` makes mmengine import the modules
that register them.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

_LOCATIONS = ['gfvideo.data', 'gfvideo.models', 'gfvideo.engine']

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='gfvideo', locations=['gfvideo.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='gfvideo', locations=['gfvideo.data'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='gfvideo', locations=['gfvideo.data'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='gfvideo',
                         locations=['gfvideo.data'])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope='gfvideo', locations=['gfvideo.data'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='gfvideo', locations=['gfvideo.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='gfvideo', locations=['gfvideo.engine'])
