"""The sandbox: a local emulator of the upstream APIs with synthetic, seeded data."""
