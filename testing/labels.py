"""Labels the e2e puts on everything it creates (the product's own labels are in components/service.py)."""

from components.service import LABEL_PREFIX

#: On every container, network, volume and image the e2e creates; nothing without it is ever touched.
E2E_LABEL = f"{LABEL_PREFIX}.e2e"
