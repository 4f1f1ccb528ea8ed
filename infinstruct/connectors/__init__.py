"""The connectors part (imports only `infinstruct.platform`, never a sibling part)."""
