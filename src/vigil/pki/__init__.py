"""A force's own certificate authority: the CA, and the certificates of its brokers, servers and devices.

``vigil pki init|server|client`` on the command line; in code::

    authority = create_authority(folder, name="Example Force CA")   # or load_authority(folder)
    issue_certificate(authority, folder, name="broker", hosts=["broker.example"], purpose="server")
"""

from vigil.pki.authority import Authority, create_authority, load_authority
from vigil.pki.issuance import IssuedCertificate, Purpose, issue_certificate

__all__ = ["Authority", "IssuedCertificate", "Purpose", "create_authority", "issue_certificate", "load_authority"]
