"""Offline tooling that turns a GQA model into an M2LA one: conversion (source, rope_pairs, factorise, gqa,
cli), layer-wise fitting and healing toward the source (layerwise, heal), their held-out text and
perplexity (corpus, ppl), and DeepSeek-format loading (deepseek).

The conversion's public names are re-exported here, so `from model.convert import convert_model` reads as
the one thing it is; the healing and corpus helpers are imported from their own modules.
"""
from model.convert.factorise import Method, allocate_ranks
from model.convert.gqa import ConvertOptions, convert_layer, convert_model
from model.convert.rope_pairs import rotation_sensitivity
from model.convert.source import SourceParts, attention_input_moments, calib_ids_from_text, load_source, source_parts

__all__ = ["ConvertOptions", "Method", "SourceParts", "allocate_ranks", "attention_input_moments",
           "calib_ids_from_text", "convert_layer", "convert_model", "load_source", "rotation_sensitivity",
           "source_parts"]
