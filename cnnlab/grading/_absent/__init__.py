"""Bound over every package a lab forbids, inside the grading sandbox: the package's own files are not
there, so ``import torch`` (or ``cnnlab.numpy``) finds this module instead, and nothing else to load.
It is not a guard in the student's process: taking it away would leave nothing to import."""

raise ImportError(f"本实验不允许导入 {__name__}：请只用 NumPy 自己实现。", name=__name__)
