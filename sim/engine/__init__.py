"""The discrete-event simulation (simpy): pools, demand, supply and decisions over time."""
