"""Wire formats: protocol-v1 frames, the simulator's DMG1 motion datagrams and its lap files."""
