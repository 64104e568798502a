"""The own account: the second factor (enrolment, the sign-in code page) and the administrators' resets."""
