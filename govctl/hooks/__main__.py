from govctl.hooks import main

main()
