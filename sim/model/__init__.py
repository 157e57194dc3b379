"""The rules of the world, pure and free of I/O: schema, units, time, economics, adoption."""
