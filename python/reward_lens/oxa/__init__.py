"""OXA (Offline eXploration-Aware fine-tuning): the warm start that promotes low-confidence correct
teacher traces and suppresses high-confidence wrong self-generated ones (docs/oxa.md)."""
