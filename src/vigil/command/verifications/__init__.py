"""Second verifications of matches: no action on an identification unless two people verified it (AI Act Art 14(5))."""
