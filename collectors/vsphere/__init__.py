"""vSphere source: one narrow PropertyCollector read of a vCenter/ESXi inventory -> HypervisorFacts.

* ``settings``: what is needed to reach one vCenter (no I/O).
* ``client``: the transport (pyVmomi SOAP stub, TLS, one session reused across cycles, re-login on
  ``NotAuthenticated``, paged ``RetrievePropertiesEx`` over a ``ContainerView``, errors mapped to
  ``CollectionError`` reasons).
* ``inventory``: what to ask (the property paths: data) and how each wire value becomes plain data.
* ``parse``: plain rows -> ``collectors.hypervisor`` facts plus vSphere specifics (pure).
"""
