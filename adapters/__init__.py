"""Platform adapters. Each converts platform payloads to `Inbound` with a pure
`to_inbound`, renders `Outbound` with a pure `render`, and has a thin class
that owns the platform client."""
