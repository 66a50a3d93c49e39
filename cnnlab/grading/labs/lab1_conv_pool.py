"""Old id of lab2_conv_pool (lab 1 was renamed lab 2): student notebooks made before the rename
call ``Lab("lab1_conv_pool")``, whose ``check()`` reads this module. Hand-written, not generated."""

from cnnlab.grading.labs.lab2_conv_pool import LAB

__all__ = ["LAB"]
