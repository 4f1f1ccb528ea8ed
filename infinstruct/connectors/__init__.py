"""The connectors part (imports only `infinstruct.core`, never a sibling part)."""
