"""Model families, one flat folder each (transformers' grammar).

Each folder holds `configuration_<family>.py` and `modeling_<family>.py` and
imports only torch, transformers and files of its own folder: these are the
files that travel to the Hugging Face Hub beside the weights, where the
remote-code loader follows relative imports inside one folder only.
"""
