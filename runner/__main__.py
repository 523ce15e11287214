from runner.app.main import main

main()
