"""The M2LA vision-language model: a transformers vision tower joined to our M2LA decoder.

model (M2LAVisionLM: prompt embedding, naive prefill, absorbed decode), text (the decoder with input embeddings
and deepstack), attention (a converted Qwen3-VL layer's kept q/k norms), vision (the tower and MRoPE positions),
mrope (interleaved sections as contiguous ones), processor (the processors without torchvision),
convert (Qwen2.5-VL / Qwen3-VL -> M2LA), internvideo3 (loading InternVideo3's MLA checkpoints).
"""
