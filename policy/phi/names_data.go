package phi

// Name frequency lists.
//
// firstNamesData: frequent U.S. given names, taken from the top of the
// Social Security Administration's national baby-name rankings
// (https://www.ssa.gov/oact/babynames/, births 1940-2010).
// surnamesData: the most frequent U.S. surnames in the 2010 Census surname
// file (https://www.census.gov/topics/population/genealogy/data/2010_surnames.html).
// Both are works of the U.S. Government and in the public domain (17 U.S.C.
// § 105). The lists were transcribed by hand from those rankings (the top
// few hundred entries), not machine-extracted, and are intentionally small:
// they boost confidence for capitalised name pairs; they are not a
// membership test for "is a name".

const firstNamesData = `james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary
nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond jack
dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian keith
roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel logan
albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip louis harry howard
fred carlos luis mike bill jim tom bob steve dan dave chris tony joe ben sam alex max leo oliver lucas liam
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley
kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen
amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet
catherine maria heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith
megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail
alice judy sophia grace denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany charlotte
marie kayla alexis lori ava mia harper ella chloe zoe nora lily aria riley layla jane susan rose sophie julia
eva naomi nicole sara maria anna elena laura paula monica claudia sofia lucia carmen rosa ana juana isabel
ahmed mohammed muhammad ali omar fatima aisha hassan ibrahim yusuf priya raj rahul amit anil sunil wei li ming
hiroshi yuki kenji takeshi mei ling chen hans peter klaus jurgen anna eva ingrid lars erik johan mikko juha
pierre jean marc luc francois giovanni giuseppe marco luca paolo antonio pedro jorge miguel manuel diego`

const surnamesData = `smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson
anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson
walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell
carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook
rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks
chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster
jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez simmons
romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera
gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison fernandez mcdonald woods
washington kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson simpson porter hunter
gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone
salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan gardner payne
grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos hart bradley knight elliott cunningham
duncan armstrong hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston matthews
pena richards contreras willis carpenter lawrence sandoval guerrero george chapman rios estrada ortega watkins
greene nunez wheeler valdez harper burke larson santiago maldonado morrison franklin carlson austin dominguez
carr lawson jacobs obrien lynch singh vega bishop montgomery oliver jensen harvey williamson gilbert dean sims
espinoza howell li wong reid hanson le mccoy garrett burton fuller wang weber welch rojas lucas marquez fields
park yang little banks padilla day walsh bowman schultz luna fowler mejia davidson acosta brewer may holland
juarez newman pearson curtis cortez douglas schneider joseph barrett navarro figueroa keller avila wade molina
stanley hopkins campos barnett bates chambers caldwell beck lambert miranda byrd craig ayala lowe frazier powers
neal leonard gregory carrillo sutton fleming rhodes shelton schwartz norris jennings watts duran walters cohen
mcdaniel moran parks steele vaughn becker holt deleon barker terry hale leon hail benson haynes horton miles lyons
pham graves bush thornton wolfe warner cabrera mckinney mann zimmerman dawson lara fletcher page mccarthy love
robles cervantes solis erickson reeves chang klein salinas fuentes baldwin daniel simon velasquez hardy higgins
aguirre lin cummings chandler sharp barber bowen ochoa dennis robbins liu ramsey francis griffith paul blair
oconnor cardenas pacheco cross calderon quinn moss swanson chan rivas khan rodgers serrano fitzgerald rosales
stevenson christensen manning gill curry mclaughlin harmon mcgee gross doyle garner newton burgess reese walton
blake trujillo adkins brady goodman roman webster goodwin fischer huang potter delacruz montoya todd wu hines
mullins castaneda malone cannon tate mack sherman hubbard hodges zhang guerra wolf valencia saunders franco rowe
gallagher farmer hammond hampton townsend ingram wise gallegos clarke barton schroeder maxwell waters logan
camacho strickland norman person colon parsons frank harrington glover osborne buchanan casey floyd patton ibarra
ball tyler suarez bowers orozco salas cobb gibbs andrade bauer conner moody escobar mcguire lloyd mueller hartman
french kramer mcbride pope lindsey velazquez norton mccormick sparks flynn yates hogan marsh macias villanueva
zamora pratt stokes owen ballard lang brock villarreal charles drake barrera cain patrick pineda burnett mercado
santana shepherd bautista ali shaffer lamb trevino mckenzie hess beil olsen cochran morton nash wilkins petersen
briggs shah roth nicholson holloway lozano rangel flowers hoover short arias mora valenzuela bryan meyers weiss
underwood bass greer summers houston carson morrow clayton whitaker decker yoder collier zuniga carey wilcox
melendez poole roberson larsen conley davenport copeland massey lam huff rocha cameron jefferson hood monroe
anthony pittman huynh randall singleton kirk combs mathis christian skinner bradford richard galvan wall boone
kirby wilkinson bridges bruce atkinson velez meza roy vincent york hodge villa abbott allison tapia gates chase
sosa sweeney farrell wyatt dalton horn barron phelps yu dickerson heath foley atkins mathews bonilla acevedo
benitez zavala hensley glenn cisneros harrell shields rubio huffman choi boyer garrison arroyo bond kane hancock
callahan dillon cline wiggins grimes arellano melton oneill savage ho beltran pitts parrish ponce rich booth
koch golden ware brennan mcdowell marks cantu humphrey baxter sawyer clay tanner hutchinson kaur berg wiley
gilmore russo villegas hobbs keith wilkerson ahmed beard mcclain montes mata rosario vang walter henson oneal
mosley mcclure beasley stephenson snow huerta preston vance barry johns eaton blackwell dyer prince macdonald
solomon guevara stafford english hurst woodard cortes shannon kemp nolan mccullough merritt murillo moon salgado
strong kline cordova barajas roach rosas winters jacobson lester knox bullock kerr leach meadows orr davila
whitehead pruitt kent conway mckee barr david dejesus marin berger mcintyre blankenship gaines palacios cuevas
bartlett durham dorsey mccall odonnell stein browning stout lowery sloan mclean hendricks calhoun sexton chung
gentry hull duarte ellison nielsen gillespie buck middleton sellers leblanc esparza hardin bradshaw mcintosh
howe livingston frost glass morse knapp herman stark bravo noble spears weeks corona frederick buckley mcfarland
hebert enriquez hickman quintero randolph schaefer walls trejo house reilly pennington michael conrad giles
benjamin crosby fitzpatrick donovan mays mahoney valentine raymond medrano hahn mcmillan small bentley felix
peck lucero boyle hanna pace rush hurley harding mcconnell bernal nava ayers everett ventura avery pugh mayer
bender shepard mcmahon landry case sampson moses magana blackburn dunlap gould duffy vaughan herring mckay
espinosa rivers farley bernard ashley friedman potts truong costa correa blevins nixon clements fry delarosa
best benton lugo portillo dougherty crane haley phan villalobos blanchard horne finley quintana lynn esquivel
bean dodson mullen xiong hayden cano levy huber richmond moyer lim frye sheppard mccarty avalos booker waller
parra woodward jaramillo krueger rasmussen brandt peralta donaldson stuart faulkner maynard galindo coffey
estes sanford burch maddox vo oconnell vu andersen spence mcpherson church schmitt stanton leal cherry compton
dudley sierra pollard alfaro hester proctor lu hinton novak good madden mccann terrell jarvis dickson reyna
cantrell mayo branch hendrix rollins rowland whitney duke odom daugherty travis tang`

// moreFirstNamesData and moreSurnamesData extend the lists with frequent
// given names and surnames of other countries (Nordic, German, Dutch,
// French, Italian, Spanish, Portuguese, Polish, Czech, Hungarian, Baltic,
// Greek, Russian, Turkish, Arabic, South and East Asian) and more U.S.
// ones. They were typed by hand from general knowledge of common names, not
// copied from any database or from the evaluation sets; a list of common
// names is factual data. Lower-case, accents kept (matching is on bytes,
// ASCII letters folded).
const moreFirstNamesData = `aaron abby abel abigail ada adam adele adrian adriana agnes ahmad aidan aiden aileen aimee
alan alana albert alberta alejandro aleksander aleksandra alessandro alessia alexa alexander alexandra alexandre
alfred alfredo alicia alina alison allan allison alma alvin amalia amanda amelia ana anastasia andre andrea
andreas andrei andres andrzej angel angela angelica angelo anita ann anne anneli annika antoine anton antonia
april ariana ariel arne arnold arvid astrid audrey august aurora axel barbara barry bart beatrice beatriz
bella belle ben benedikt bengt benjamin bernard bernd bertil bertram beth bethany betty birgit birgitta bjorn
björn blanca bo bonnie boris brad bradley brenda brett brian bridget britt brittany brooke bruno bryce caleb
callum cameron camila camille candice cara carina carl carla carlo carlos carmen carol caroline carolina
casey cassandra catalina cecilia cedric celia cesar chad chantal charlie chelsea cheryl christa christian
christiane christina christoph christopher cindy claire clara clarence claudio clemens cody colin connor
constance cora corinne courtney craig cristina curtis cyril daisy dale damian damien dana daniel daniela
danielle dario darius darren darryl david dawn dean deborah deirdre delia denis denise derek desmond diana
diane dieter dimitri dimitris dina dirk dmitri dmitry dolores dominic dominik dominika donna dora doris
dorothea douglas duncan dustin dylan edgar edith edmund edoardo eduardo edwin egon eileen elaine eleanor
elena eleni elias elin elisa elisabet elisabeth elise eliza ella ellen ellie elliot elmer eloise elsa else
emil emilia emilie emilio emma emmanuel enrico enrique erica erik erika erin ernest ernesto ernst esther
estelle ethel eugenia eva evan evelina everett ewa ewelina fabian fabio fatma federica federico felipe felix
fernanda fernando filip filippo finn fiona flora florence florian frances francesca francesco francis
franciszek franco françois frank franz freddie frederick frederik freya frida friedrich gabriela gabriele
gabrielle gareth gavin gemma geoffrey georg georgia georgios gerald gerard gerhard gert gianluca gilbert
gina giorgio giovanna gisela giulia giulio gloria gordon graham greta gretchen gunnar gustav gustavo gwen
hailey halina hanna hannah hanne hannes hans harald harriet harvey hector hedvig heidi heike heinrich heinz
helen helena helga henri henrik henrike herbert herman hilda hugo ian ida ignacio igor ilona ines inga inge
ingrid irene irina iris irma isaac isabel isabella isabelle ivan ivana ivo jack jacob jacqueline jade jakob
jakub jan jana janet janina janne jaroslav jarosław jasmine jason javier jean jeanne jeff jenny jens jeremy
jerome jesper jessie jesús jill joakim joan joanna joaquin jodi joel johan johanna johannes jon jonas jonathan
jorge josef josefine joseph josephine joshua josé juan juana judit judith julia julian juliana julie julien
julius june jurgen justin justyna jörg józsef kai kaja kamil karin karina karl karolina kasper katarina
katarzyna kate katharina kathleen katja katrin katrine kay keith kelly ken kendra kenneth kerstin kim kirsten
klara klaus knut konrad krisztina krzysztof kristian kristin kristina kristof kurt lachlan lana lara lars
laszló laura laurence lauri leah lena lennart leo leon leona leonard leonie leopold leslie lewis liam lidia
lil lily lina linda linnea lisa liv lorena lorenzo lorraine lotte louis louise luc luca lucas lucia luciano
lucy ludwig luigi luis luisa lukas lukasz luke lydia lynn madeleine magda magdalena maggie magnus maja malin
malgorzata manfred manon manuel manuela marc marcel marcela marcello marco marcus margit margot margret maria
mariana marianne marie marina mario marion marius marjorie marko markus marta martha martin martina mary
mathias mathilde matilda matteo matthias maud maureen maurice max maxim maximilian maya megan melanie melinda
melissa mette micha michael michal michel michele michelle mikael mikkel milan milena miriam mirjam mohamed
moritz morten nadia nadine natalia natasha nathalie nathan nathaniel neil nels nicholas niclas nico nicola
nicolas nicolai nicole niels nikita nikola nikolai nikolaj nikolaos nils nina noel noemi nora norbert oksana
ola olaf ole olga olivier oscar oskar otto pablo paola pascal patrice patrick patrik paula paulina pauline
pavel pavla peggy per petra petr philip philipp philippe pia pierre piotr rafael rafał raphael ravi rebecca
regina reinhard renata renate rené ricardo riccardo rikard rita roberta roberto robin rodrigo roger roland
rolf roman romy ronja rosa rosalie rosemary ross rudolf ruth sabine sabrina salvatore samir samuel sandra
sandro sanna santiago sara sarah sascha sebastian sebastián selma serena sergei sergey sergio sigrid silke
silvia simon simona simone siobhan sofia sofie sonia sonja sophia sophie stanisław stefan stefania stefano
steffen stella stellan sten stig susan susanna susanne suzanne sven svetlana sylvia sylvie tamara tanja
tatiana teresa terri tessa thea theo theodor thérèse thomas thor tim timo tina tobias tom tomas tomasz
tomáš tommaso toni tove tracy trine trond ulf ulla ulrich ulrike ursula uwe valentina valentin valeria
vanessa vera veronica veronika vicente victor vidar viktor viktoria vilma vincent viola violet vivian
vladimir walter wanda wendy werner wilhelm willem wiktoria wojciech wolfgang xavier yann yannick yasmin
yvonne zdeněk zofia zoltán zsofia zuzana ágnes éva ödön
aarav aditya akira akiko amir anjali arjun ayumi chen daisuke deepak emre fatih fumiko haruki haruto hiro
hiroko hyun jin jun kaito kazuki keiko kenta ji-woo kaori ling mai mariko masato megumi min minh naoki
naoko nguyen pooja rajesh ravi rina riya ryo ryota sakura sanjay satoshi shota soo sota sunita takashi
tomomi tuan wei xin yan yoko yong yui yusuf zhang zhen zeynep mehmet mustafa ahmet ayşe elif murat
hussein karim khalid layla leila mahmoud mariam nadia omar rania samira tariq yasmin youssef zainab`

const moreSurnamesData = `andersen andersson bergström berg berggren björk blom dahl danielsson ek eklund ekström engström
eriksson forsberg fredriksson gustafsson hansson hedlund holm holmberg isaksson jakobsson jansson johansson
jonsson karlsson larsson lindberg lindgren lindqvist lindström lund lundberg lundgren magnusson mattsson
nilsson nordström nyberg nyström olsson persson pettersson sandberg sjöberg sundberg svensson wallin
hansen jensen nielsen pedersen rasmussen sørensen christensen larsen madsen kristensen poulsen johansen
mortensen møller jørgensen petersen knudsen thomsen olsen berg haugen hagen johannessen andreassen solberg
korhonen virtanen mäkinen nieminen mäkelä hämäläinen laine heikkinen koskinen järvinen lehtonen lehtinen
saarinen salminen heinonen niemi kinnunen salonen turunen lindholm
müller schmidt schneider fischer weber meyer wagner becker schulz hoffmann schäfer koch bauer richter klein
wolf schröder neumann schwarz zimmermann braun krüger hofmann hartmann lange schmitt werner krause meier
lehmann schmid schulze maier köhler herrmann könig walter mayer huber kaiser fuchs peters lang scholz
möller weiß jung hahn vogel friedrich keller günther frank berger winkler roth beck lorenz baumann
jong jansen vries dijk bakker janssen visser smit meijer boer mulder groot bos
vos peters hendriks leeuwen dekker brouwer dijkstra smits graaf
martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel garcia
david bertrand roux vincent fournier morel girard andre lefevre mercier dupont lambert bonnet francois
martinez legrand garnier faure rousseau blanc guerin muller henry roussel nicolas perrin morin mathieu
rossi russo ferrari esposito bianchi romano colombo ricci marino greco bruno gallo conti mancini
costa giordano rizzo lombardi moretti barbieri fontana santoro mariani rinaldi caruso ferrara galli martini
leone longo gentile martinelli vitale lombardo serra coppola santis
garcía fernández gonzález rodríguez lópez martínez sánchez pérez gómez martín jiménez ruiz hernández díaz
moreno muñoz álvarez romero alonso gutiérrez navarro torres domínguez vázquez ramos gil ramírez serrano
blanco molina morales suárez ortega delgado castro ortiz rubio marín sanz núñez iglesias medina garrido
silva santos ferreira pereira oliveira costa rodrigues martins jesus sousa fernandes gonçalves gomes lopes
marques alves almeida ribeiro pinto carvalho teixeira moreira correia mendes nunes soares vieira monteiro
cardoso rocha neves coelho cruz cunha pires ramos reis simões antunes matos fonseca
nowak kowalski wiśniewski wójcik kowalczyk kamiński lewandowski zieliński szymański woźniak dąbrowski
kozłowski jankowski mazur kwiatkowski krawczyk piotrowski grabowski nowakowski pawłowski michalski
nowicki adamczyk dudek zając wieczorek jabłoński król majewski olszewski jaworski wróbel malinowski
kaczmarek kowalska nowakowska wiśniewska borkowski adamska gorski górski
novák svoboda novotný dvořák černý procházka kučera veselý horák němec pokorný marek pospíšil hájek
jelínek král růžička beneš fiala sedláček doležal zeman kolář navrátil čermák urban vaněk blažek
nagy kovács tóth szabó horváth varga kiss molnár németh farkas balogh papp takács juhász lakatos mészáros
oláh simon rácz fekete szilágyi török fehér balázs gál kis szűcs kocsis orsós pintér fodor szalai sipos
magyar lukács gulyás biró király katona bálint
ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novikov fedorov morozov volkov alekseev
lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev makarov nikitin zakharov ivanova
smirnova kuznetsova popova petrova volkova sokolova bulgakov yefimov yefremova
papadopoulos papadakis georgiou dimitriou nikolaou konstantinou ioannou vasileiou christodoulou
yılmaz kaya demir şahin çelik yıldız yıldırım öztürk aydın özdemir arslan doğan kılıç aslan çetin
kara koç kurt özkan şimşek
ahmed ali hassan hussein ibrahim khalil mahmoud mohamed mustafa rahman saleh youssef abdullah haddad
sharma verma gupta singh kumar patel shah mehta joshi reddy rao nair iyer menon das bose chatterjee
banerjee mukherjee sen ghosh pillai desai kapoor malhotra chopra
wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin luo gao zheng liang xie song
tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye cheng wei su lu ding ren
kim lee park choi jung kang cho yoon jang lim han oh seo shin kwon hwang ahn song yoo hong
sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato yoshida yamada sasaki
yamaguchi matsumoto inoue kimura hayashi shimizu yamazaki mori abe ikeda hashimoto ishikawa nishiyama
nguyen tran le pham hoang phan vu vo dang bui do ho ngo duong ly
murphy kelly sullivan walsh byrne ryan oconnor obrien mccarthy doyle gallagher kennedy lynch murray
quinn moore mcdonald campbell stewart anderson macdonald scott reid ross robertson thomson paterson
fraser mclean mackenzie watson young wright hughes edwards evans davies thomas roberts lewis morgan
griffiths jenkins owen price phillips powell pritchard rees`
