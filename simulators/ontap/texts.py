"""ONTAP's own wording for the two CIFS-NDO health alerts.

Description, possible effect and corrective action of ``HaNotReadyCifsNdo_Alert`` (Major) and
``NoStandbyLifCifsNdo_Alert`` (Minor), both probable cause Configuration_error, as ONTAP's alert
definitions spell them (copied from a public repository that carries ONTAP's health alert
definition table); ``$(...)`` placeholders are filled in by ``ha_not_ready`` / ``no_standby_lif``.
"""

from __future__ import annotations

from simulators.ontap.model import Alert

HA_NOT_READY_DESCRIPTION = (
    'One or more files hosted by a volume in an aggregate on node "{node}" have been opened through a '
    "continuously available CIFS share with the promise of persistence in the event of a failure. "
    "However, the HA relationship with the partner is either not configured or not healthy."
)
HA_NOT_READY_EFFECT = (
    'In the event that "{node}" fails, its aggregates will become unavailable and open file state will '
    "be lost, which will prevent CIFS clients from recovering persistent open files and may result in a "
    "disruption to the associated client applications."
)
HA_NOT_READY_ACTION = (
    "This alert will persist while a node is in takeover state. If that is the case, issue a giveback to "
    "return the aggregates to the partner once it is ready to accept them. Otherwise, verify that there is "
    'a properly configured and enabled HA relationship between "{node}" and its partner. Alternatively '
    "volumes can be moved to an aggregate on a node that is part of an operable HA pair."
)
NO_STANDBY_DESCRIPTION = (
    'Vserver "{svm}" is actively serving data over CIFS through node "{node}", and there are CIFS files '
    "opened persistently over continuously available shares. However, its partner node \"{partner}\" is "
    "not exposing any active data LIFs for the Vserver."
)
NO_STANDBY_EFFECT = (
    'In the event that node "{node}" fails, node "{partner}" will witness the condition very quickly. If a '
    'data LIF for Vserver "{svm}" existed on node "{partner}", that node would have the capability to bring '
    'active connections away from node "{node}" non-disruptively and faster than waiting for the data LIF '
    "to fail over and the client to recover on its own."
)
NO_STANDBY_ACTION = (
    'Create a data LIF on node "{partner}" for Vserver "{svm}", or move an existing one to that node.'
)


def ha_not_ready(node: str, when: str) -> Alert:
    return Alert(
        node=node, monitor="node_connect", alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=node,
        subsystem="cifs_ndo", perceived_severity="major", probable_cause="configuration_error",
        description=HA_NOT_READY_DESCRIPTION.format(node=node),
        corrective_actions=HA_NOT_READY_ACTION.format(node=node),
        possible_effect=HA_NOT_READY_EFFECT.format(node=node), indication_time=when,
    )


def cifs_ndo_node_vserver(svm: str, node: str, partner: str) -> str:
    """The alerting resource of a NoStandbyLifCifsNdo_Alert: type CifsNdoNodeVserver, keyed by
    vserver, node and partner (the alert definition's ``$(cifs_ndo_node_vserver_resource.*)``).
    How ONTAP spells the key as one string is not published: this form is an assumption, and the
    exporter must not depend on it (it matches the cluster's SVM names; docs/ontap-semantics.md)."""
    return f"vserver:{svm},node:{node},partner:{partner}"


def no_standby_lif(svm: str, node: str, partner: str, when: str) -> Alert:
    return Alert(
        node=node, monitor="node_connect", alert_id="NoStandbyLifCifsNdo_Alert",
        alerting_resource=cifs_ndo_node_vserver(svm, node, partner),
        subsystem="cifs_ndo", perceived_severity="minor", probable_cause="configuration_error",
        description=NO_STANDBY_DESCRIPTION.format(svm=svm, node=node, partner=partner),
        corrective_actions=NO_STANDBY_ACTION.format(svm=svm, partner=partner),
        possible_effect=NO_STANDBY_EFFECT.format(svm=svm, node=node, partner=partner), indication_time=when,
    )
