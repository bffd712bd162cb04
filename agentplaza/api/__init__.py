"""HTTP: parse → call a service → render. The only layer (with realtime/) that knows HTTP."""
