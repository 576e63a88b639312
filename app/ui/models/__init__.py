"""Plain Python models behind the GUI's panels (no Qt here, so tests and exports share them)."""
