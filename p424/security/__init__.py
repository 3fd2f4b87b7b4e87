"""Who may do what: the platform's component identities, as data.

One definition per system, read by every deployment that sets up access (the Kubernetes manifests
in ``deploy/k8s`` today, native mode next): Kafka principals and their ACLs (``kafka``), Cassandra
roles and grants (``roles``), and the Secrets that carry each credential (``secrets``).
"""
