"""What every router shares: dependencies, the error shape, request bodies read within limits."""
