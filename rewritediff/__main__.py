from rewritediff.cli import main

raise SystemExit(main())
