"""Exercise checkers: ``from mmcourse import check``, then e.g. ``check.conv2d(my_conv2d)``.

Each checker runs your code on hidden cases and prints a line when all pass; otherwise it raises
``CheckFailed`` (an ``AssertionError``) saying which case failed, what you returned, what was
expected and, for common mistakes, why. One module per chapter; their checkers are collected here.
"""

from mmcourse.check._core import CheckFailed, show_only_the_message
from mmcourse.check.attention import (
    mha_parameter_count,
    patchify,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)
from mmcourse.check.audio import alias_frequency, decode_dtmf, hz_to_mel, mel_filterbank
from mmcourse.check.conv import conv2d, conv_layer_cost, conv_output_size, vertical_edge_kernel
from mmcourse.check.debugging import (
    image_text_model,
    inputs_and_target,
    low_rank_fusion,
    lstm_classify,
    train_step,
)
from mmcourse.check.encoders import small_cnn
from mmcourse.check.fusion import (
    concat_fusion,
    masked_late_fusion,
    tensor_fusion_size,
    weighted_sum_fusion,
)
from mmcourse.check.losses import cross_entropy, info_nce
from mmcourse.check.pool import max_pool2d, max_pool_backward, pool_output_size
from mmcourse.check.rnn import (
    clip_grad_norm,
    gradient_norm_ratio,
    gru_cell,
    lstm_cell,
    lstm_parameter_count,
    memory_bias,
    rnn_cell,
    rnn_forward,
)
from mmcourse.check.text import (
    build_vocabulary,
    embed_one_hot,
    last_state,
    masked_mean,
    pad_batch,
)

__all__ = [
    "CheckFailed",
    # chapter 2
    "conv2d",
    "conv_layer_cost",
    "conv_output_size",
    "vertical_edge_kernel",
    # chapter 3
    "cross_entropy",
    "max_pool2d",
    "max_pool_backward",
    "pool_output_size",
    "small_cnn",
    # chapters 4-6
    "rnn_cell",
    "rnn_forward",
    "gradient_norm_ratio",
    "clip_grad_norm",
    "lstm_cell",
    "gru_cell",
    "lstm_parameter_count",
    "memory_bias",
    "build_vocabulary",
    "pad_batch",
    "embed_one_hot",
    "masked_mean",
    "last_state",
    # chapter 7
    "alias_frequency",
    "decode_dtmf",
    "hz_to_mel",
    "mel_filterbank",
    # chapter 8
    "concat_fusion",
    "masked_late_fusion",
    "tensor_fusion_size",
    "weighted_sum_fusion",
    "info_nce",
    # chapter 9
    "scaled_dot_product_attention",
    "split_heads",
    "patchify",
    "sinusoidal_positions",
    "mha_parameter_count",
    # chapter 10
    "train_step",
    "inputs_and_target",
    "lstm_classify",
    "image_text_model",
    "low_rank_fusion",
]

show_only_the_message()
