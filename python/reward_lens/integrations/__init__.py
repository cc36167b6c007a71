"""Adapters that let other training engines use Reward Lens' verifier and reward maths."""
