"""The differentiation sweeps under the ``rd.gradient`` API: ``reverse`` (connection patterns and
the reverse sweep of VJP rules), ``forward`` (the forward sweep of JVP rules) and ``stable`` (stable
forms of the differentiated graph, from the rules tagged ``@stable``). The calculus itself is in
``rules/*.rules``; these modules only walk the DAG and ask the rule set.
"""
