"""`python -m reward_lens.study`: GRPO, LUFFY, OGER and OGER's ablations on one task, over seeds.

See docs/variant-study.md for the task, the arms, the measures and the results; `__main__.py`
for the commands.
"""
