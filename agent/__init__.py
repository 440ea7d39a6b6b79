"""The MCR agent: evolving context, retrieve_clip and verify_frame, beliefs, verified citations, exports."""
