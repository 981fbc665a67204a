"""Social media incidents: filed (or reported in confidence), worked through the playbook of their
category with tasks, a timeline, evidence and platform reports, then reviewed and closed.
"""
