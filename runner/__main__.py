from runner.app.entry import main

main()
