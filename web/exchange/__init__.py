"""The exchange with the upstream petition information system: its signed push and the administrators' page."""
