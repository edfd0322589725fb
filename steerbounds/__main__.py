from steerbounds.cli import main

raise SystemExit(main())
